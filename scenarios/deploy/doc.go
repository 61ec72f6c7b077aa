// Package deploy is `c10k deploy`: a blue-green deploy as an nginx
// operator's script does it — start the idle color, check its health,
// switch the upstream in the config, reload the server, stop the old one.
package deploy
