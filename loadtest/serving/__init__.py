"""How the servers a command measures are started, configured, checked and described: server
processes, their modes, the settings they see, the database, the start-up checks, a remote deployment."""
