"""The replica: the tables of ERP rows that other programs read, behind one protocol.

`base` is the protocol (`Replica`, `ReplicaTarget`) and its values, `schema` the DDL
generated from the entity list per dialect, `sqlite` the SQLite backend. This
package's `__init__` imports nothing, so that importing the protocol stays cheap.
"""
