//! Derive macros for dualdb (filled by the model layer).
