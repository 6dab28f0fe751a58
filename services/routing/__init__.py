"""routing: plans each dossier's route, forwards steps to units, keeps the handover log."""
