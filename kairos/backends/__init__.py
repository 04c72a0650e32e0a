"""Storage engines. Each module is imported lazily by ``kairos.registry``."""
