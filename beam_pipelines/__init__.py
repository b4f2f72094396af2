"""Apache Beam pipeline: read order events, validate, dead-letter what fails, upsert the rest."""
