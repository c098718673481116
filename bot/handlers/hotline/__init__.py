"""The hotline: operators' call transcripts filed as cases (API, page, CSV import)."""
