"""The pygame app: play inside the dreamed game, watch the agent, compare dream and reality."""
