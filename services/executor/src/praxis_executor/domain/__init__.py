"""Pure run logic: states, allowed transitions, and what each transition emits."""
