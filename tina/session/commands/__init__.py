"""``tina-session`` subcommands, one module per group; each exposes ``register(commands)``.

Every handler takes the parsed arguments and returns the exit code; it prints its own output.
"""
