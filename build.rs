// The migrations are embedded in the binary (diesel_migrations::embed_migrations!): rebuild
// when one is added or changed, which the macro cannot tell cargo itself.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
