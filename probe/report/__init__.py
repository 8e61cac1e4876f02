"""probe.report"""
