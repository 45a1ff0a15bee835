fn main() {
    sekia_desktop::run()
}
