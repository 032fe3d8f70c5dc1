"""sleepedge.export"""
