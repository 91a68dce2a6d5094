"""Lua scripts that drive `wrk` for the benchmark; a package only so that they ship as package data."""
