"""probe.demo"""
