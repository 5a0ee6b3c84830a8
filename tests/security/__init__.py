"""Regression tests for the outside security review (issue 15) and the classes of bug behind each finding."""
