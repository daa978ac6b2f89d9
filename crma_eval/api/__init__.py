"""The bottom layer every stage and plugin builds on (see crma_eval.api.catalogue)."""
