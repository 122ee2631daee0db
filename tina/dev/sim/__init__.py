"""The simulator: sandboxed laptops driving realistic orchestrations."""
