"""The laptop daemon: watches Claude Code and tina files, syncs them to Convex, runs actions."""
