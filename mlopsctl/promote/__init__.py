"""Releases and their promotion from one environment to the next, region by region.

``lock`` reads and writes ``mlops.lock`` (what each region runs), ``pins`` applies
its pins in compilation, ``history`` reads when a release was applied from Git,
``assess`` decides which regions may get a release, ``status`` renders it.
"""
