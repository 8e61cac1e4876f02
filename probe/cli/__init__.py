"""probe.cli"""
