"""Between the GraphQL layer and the domain services: read the request's context, call
one use case, return plain domain data. Domain errors become `userErrors` in
`resolvers.errors`, the one place that does it."""
