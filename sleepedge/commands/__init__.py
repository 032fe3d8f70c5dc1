"""One module per ``sleepedge`` subcommand (thin shells over library functions)."""
