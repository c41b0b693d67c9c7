//! Which `wasi:http` failures are timeouts.
//!
//! Both the edge (spin-sdk's bindings) and the host (wasmtime's) classify an `ErrorCode`,
//! each its own generated type with the same variant names: a macro over the names serves
//! both, where a function would need a type they share.

/// Whether a `wasi:http` `ErrorCode` says an exchange failed for lack of time: to resolve
/// the name, to connect, for the first byte or between two bytes (a request's timeouts, as
/// the host enforces them). Give the error (a value or a reference) and the path of its
/// `ErrorCode` type:
///
/// ```
/// # mod types {
/// #     pub enum ErrorCode {
/// #         DnsTimeout, ConnectionTimeout, ConnectionReadTimeout, HttpResponseTimeout,
/// #         ConnectionRefused,
/// #     }
/// # }
/// use types::ErrorCode;
/// assert!(tiergate_core::timed_out!(&ErrorCode::DnsTimeout, ErrorCode));
/// assert!(!tiergate_core::timed_out!(ErrorCode::ConnectionRefused, types::ErrorCode));
/// ```
#[macro_export]
macro_rules! timed_out {
    ($error:expr, $($code:ident)::+) => {
        ::core::matches!(
            $error,
            $($code)::+::ConnectionTimeout
                | $($code)::+::ConnectionReadTimeout
                | $($code)::+::HttpResponseTimeout
                | $($code)::+::DnsTimeout
        )
    };
}

#[cfg(test)]
mod tests {
    /// The variants of `wasi:http/types.error-code` the macro names, and two it does not.
    enum ErrorCode {
        DnsTimeout,
        ConnectionTimeout,
        ConnectionReadTimeout,
        HttpResponseTimeout,
        ConnectionRefused,
        HttpRequestDenied,
    }

    #[test]
    fn the_four_timeouts_are_timeouts() {
        for code in [
            ErrorCode::DnsTimeout,
            ErrorCode::ConnectionTimeout,
            ErrorCode::ConnectionReadTimeout,
            ErrorCode::HttpResponseTimeout,
        ] {
            assert!(timed_out!(&code, ErrorCode));
        }
    }

    #[test]
    fn other_failures_are_not() {
        assert!(!timed_out!(ErrorCode::ConnectionRefused, ErrorCode));
        assert!(!timed_out!(&ErrorCode::HttpRequestDenied, ErrorCode));
    }
}
