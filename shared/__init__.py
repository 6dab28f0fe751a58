"""What every lienthong service uses: events, the bus, the database, settings, observability."""
