"""The dialect-free SQL layer that every backend runs: columns and the `Dialect`
(`columns`), the one `Tx` (`tx`), every read (`queries`, `stats`) and the `Store`
methods as rules in transactions (`rule_store`).
"""
