"""The domain: the aggregates and their events, the declaration of each incident kind, the rules of
values (ids, dates, countries, amounts, names) and the hash chain. Pure: no I/O, no click, no SQL."""
