"""Blinded multi-rater review of a QA run: export a sheet, import reviewers' labels, agreement.

`crma-eval review export` samples QA answers (stratified, seeded), hides arm, condition, checkpoint
and scorer names, shuffles them into a spreadsheet-safe CSV and keeps the key in RUN_DIR/review/.
`crma-eval review import` reads reviewers' sheets back and reports inter-rater agreement,
each scorer's agreement with the human majority, and corrected accuracy estimates.
"""
