"""Service: the passes (launch, poll, dispatch, tick) and the daemon, wired from the settings."""
