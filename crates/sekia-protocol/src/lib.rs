//! Wire types of sekia.
