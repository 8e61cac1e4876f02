"""probe.adapters"""
