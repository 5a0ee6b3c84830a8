"""Root Query, Mutation and Subscription resolvers: parse input, call a service, shape the payload."""
