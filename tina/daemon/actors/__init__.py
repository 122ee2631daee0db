"""The daemon's actors, one module each; every one exports `run(..., *, task_status)`."""
