//! Route tables that register themselves and can be listed: the authorization matrix test walks
//! exactly what the router serves, so a route added without an entry there fails it.

/// `(method, full path pattern)` of one registered route.
pub type RouteEntry = (&'static str, &'static str);

/// Declares `$list`, every (method, path) of the table, and `$build`, its resources in order
/// (one resource per path, so a wrong method gets 405 with `Allow`, not 404).
macro_rules! route_table {
    (
        $vis:vis const $list:ident, fn $build:ident, prefix $prefix:literal,
        { $( $path:literal => { $( $method:ident : $handler:path ),+ $(,)? } ),* $(,)? }
    ) => {
        $vis const $list: &[$crate::routing::RouteEntry] =
            &[ $( $( (stringify!($method), concat!($prefix, $path)), )+ )* ];

        fn $build() -> Vec<actix_web::Resource> {
            vec![ $( actix_web::web::resource($path) $( .route(actix_web::web::$method().to($handler)) )+ ),* ]
        }
    };
}

pub(crate) use route_table;
