"""Claude Code hooks: the `tina hook` command Claude Code runs, and installing it into Claude Code's
settings (`tina hooks install | uninstall | status`)."""
