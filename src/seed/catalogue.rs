//! The vendor's product catalogue used by the demo data.

pub struct CatalogueProduct {
    pub sku: &'static str,
    pub name: &'static str,
    /// List price per unit and month, in whole currency units.
    pub monthly_price: i64,
    /// Sold per seat (many units) rather than per portal.
    pub per_seat: bool,
}

const fn product(
    sku: &'static str,
    name: &'static str,
    monthly_price: i64,
    per_seat: bool,
) -> CatalogueProduct {
    CatalogueProduct {
        sku,
        name,
        monthly_price,
        per_seat,
    }
}

pub const PRODUCTS: [CatalogueProduct; 14] = [
    product("MKT-STARTER", "Marketing Hub Starter", 20, false),
    product("MKT-PRO", "Marketing Hub Professional", 890, false),
    product("MKT-ENT", "Marketing Hub Enterprise", 3600, false),
    product("SALES-STARTER-SEAT", "Sales Hub Starter seat", 20, true),
    product("SALES-PRO-SEAT", "Sales Hub Professional seat", 100, true),
    product("SALES-ENT-SEAT", "Sales Hub Enterprise seat", 150, true),
    product("SVC-PRO-SEAT", "Service Hub Professional seat", 100, true),
    product("SVC-ENT-SEAT", "Service Hub Enterprise seat", 150, true),
    product("CMS-PRO", "Content Hub Professional", 500, false),
    product("OPS-PRO", "Operations Hub Professional", 800, false),
    product(
        "CONTACTS-1K",
        "Additional marketing contacts (1,000)",
        50,
        true,
    ),
    product("COMMERCE", "Commerce Hub", 50, false),
    product("SUPPORT-PREMIUM", "Premium support", 250, false),
    product(
        "ONBOARD-TECH",
        "Technical onboarding (amortised)",
        300,
        false,
    ),
];
