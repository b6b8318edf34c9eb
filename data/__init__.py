"""Bundled MIT-BIH Arrhythmia records 200, 213, 232, 233 (ODC-By 1.0; see README.md here).

Locate them with :func:`ecgaccel.models.mitdb.bundled_data_dir`.
"""
