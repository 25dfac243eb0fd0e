"""Checks of every result of the paper, statistics, verdicts, reports and the command line."""
