(* How the templates in test_mirage.py were checked: mirage's lib/devices/block.ml `make_block_t`,
   lib/devices/network.ml `add_new_network` and lib/devices/target.ml `configure_main_xl ~substitutions:[]
   ~ext:"xl.in"` (github mirage/mirage 4e111615), transcribed with Printf for Fmt ("@." is a newline),
   so that OCaml's own Hashtbl decides the order of the disks.
     ocaml mirage_xl_in.ml storage logs net:0      blocks storage and logs (in that order), network "0"
   (Debian: apt-get install ocaml-nox; not needed by the tests, which hold the texts.) *)
type block_t = { filename : string; number : int }
let all_blocks = Hashtbl.create 7
let make_block_t =
  let next_number = ref 1 in
  fun filename ->
    if Hashtbl.mem all_blocks filename then Hashtbl.find all_blocks filename
    else begin
      let number = !next_number in
      incr next_number;
      let b = { filename; number } in
      Hashtbl.add all_blocks filename b; b end
let all_networks = ref []
let add_new_network name = all_networks := name :: !all_networks
let rec string_of_int26 x =
  let high, low = ((x / 26) - 1, (x mod 26) + 1) in
  let high' = if high = -1 then "" else string_of_int26 high in
  let low' = String.make 1 (char_of_int (low + int_of_char 'a' - 1)) in
  high' ^ low'
let () =
  let args = Array.to_list Sys.argv |> List.tl in
  List.iter (fun a ->
    if String.length a > 4 && String.sub a 0 4 = "net:" then add_new_network (String.sub a 4 (String.length a - 4))
    else ignore (make_block_t a)) args;
  Printf.printf "name = '%s'\n" "@NAME@";
  Printf.printf "kernel = '%s'\n" "@KERNEL@";
  Printf.printf "type = 'pvh'\n";
  Printf.printf "memory = %s\n" "@MEMORY@";
  Printf.printf "on_crash = 'preserve'\n";
  Printf.printf "\n";
  let blocks = List.map (fun b ->
    let vdev = Printf.sprintf "xvd%s" (string_of_int26 b.number) in
    Printf.sprintf "'format=raw, vdev=%s, access=rw, target=%s'" vdev (Printf.sprintf "@BLOCK:%s@" b.filename))
    (Hashtbl.fold (fun _ v acc -> v :: acc) all_blocks []) in
  Printf.printf "disk = [ %s ]\n" (String.concat ", " blocks);
  Printf.printf "\n";
  let networks = List.map (fun n -> Printf.sprintf "'bridge=%s'" (Printf.sprintf "@NETWORK:%s@" n)) !all_networks in
  Printf.printf "# if your system uses openvswitch then either edit /etc/xen/xl.conf and set\n";
  Printf.printf "#     vif.default.script=\"vif-openvswitch\"\n";
  Printf.printf "# or add \"script=vif-openvswitch,\" before the \"bridge=\" below:\n";
  Printf.printf "vif = [ %s ]\n" (String.concat ", " networks)
