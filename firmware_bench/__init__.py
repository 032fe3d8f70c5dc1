"""sleepedge.firmware_bench"""
