"""Scripted procedures on a running lab: format (model.py), observation and judging (observe.py), runner."""
