"""Inspections, results and publication (一公开): tasks, evidence, results, deadlines, reports.

Every state change is one signed log entry written in the same database transaction as its
rows (see docs/INSPECTIONS.md for the entry types and why unpublished content is sealed).
"""
