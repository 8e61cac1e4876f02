"""Pure core: no I/O, no clock, no database, no asyncio."""
