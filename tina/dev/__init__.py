"""Developer tools, never part of the daemon: the offline demo, the simulator, the local backend
launcher and in-memory fakes for tests."""
