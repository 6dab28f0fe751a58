"""intake: the portal- and desk-facing API; issues dossier codes and publishes dossier events."""
