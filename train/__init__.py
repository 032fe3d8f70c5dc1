"""sleepedge.train"""
