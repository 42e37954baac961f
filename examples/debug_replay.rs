use elect::model::*;
use elect::protocols::ring::Ring;
use elect::protocols::ProtocolKind;
use stateright::Model;
fn main() {
    let c = ModelConfig::default_for(ProtocolKind::Ring);
    let m = ElectionModel::<Ring>::new(c);
    let mut s = m.init_states().remove(0);
    let mut seed: u64 = std::env::args().nth(1).map(|a| a.parse().unwrap()).unwrap_or(1);
    for step in 0..80 {
        let mut acts = Vec::new();
        m.actions(&s, &mut acts);
        let nexts: Vec<_> = acts.into_iter().filter_map(|a| { let d = m.format_action(&a); m.next_state(&s, a).filter(|n| m.within_boundary(n)).map(|n| (d, n)) }).collect();
        if nexts.is_empty() { println!("stuck at {step}"); break; }
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let (d, n) = nexts[(seed >> 33) as usize % nexts.len()].clone();
        println!("{step}: {d}");
        s = n;
    }
    println!("{:?}", s);
}
