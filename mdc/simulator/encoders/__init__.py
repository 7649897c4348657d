"""Per-venue wire encoders. The server finds them by name through the `mdc.simulator_venues`
entry points (mdc.simulator.registry), so this package lists none and third parties add theirs."""
