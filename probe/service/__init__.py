"""probe.service"""
