"""Batch grading, kept under its old name: everything lives in :mod:`utils.grading.batch`."""
from utils.grading.batch import (COLUMNS, ERROR, find_submissions, grade_batch, grade_in_process,  # noqa: F401
                                 report_rows, run_batch,
                                 summary_markdown, write_csv)
