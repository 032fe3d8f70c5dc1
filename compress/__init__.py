"""sleepedge.compress"""
