"""The live assist service: conversation sessions, the turn pipeline, feedback and log writing."""
